"""One error handler: every exception becomes a status code and a plain page
(or a JSON message for the review page's scripts). Never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from answer_bank.store import BankError, EntryNotFound, VersionConflict
from ingest.errors import IngestError
from questionnaire.review_model import (
    ProposalNotFound, QuestionnaireNotFound, QuestionNotFound, ReviewConflict, ReviewError,
)
from questionnaire.users import UserError, UserNotFound

log = logging.getLogger(__name__)

TITLES = {
    400: "That request could not be carried out",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Changed by someone else",
    413: "The file is too large",
    429: "Too many attempts",
    500: "Something went wrong",
}


def describe(e: BaseException) -> tuple[int, str]:
    """The status code and the message a person reads."""
    if isinstance(e, CSRFError):
        return 400, ("The form expired or did not come from this site (missing or invalid security token). "
                     "Reload the page and try again.")
    if isinstance(e, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        return 413, (f"The upload is larger than the limit of {size}. "
                     "Remove unneeded sheets or images from the file, or ask an admin to raise AIMSQ_MAX_UPLOAD_MB.")
    if isinstance(e, HTTPException):
        messages = {
            401: "Sign in to continue.",
            403: "Your role does not allow this. Ask an admin if you need it.",
            404: "There is nothing at this address.",
        }
        custom = e.description and e.description != type(e).description
        return e.code or 500, e.description if custom else messages.get(e.code, e.description or "")
    if isinstance(e, (QuestionnaireNotFound, QuestionNotFound, ProposalNotFound, EntryNotFound, UserNotFound)):
        return 404, str(e)
    if isinstance(e, (ReviewConflict, VersionConflict)):
        return 409, str(e)
    if isinstance(e, (ReviewError, BankError, IngestError, UserError)):
        return 400, str(e)
    if isinstance(e, OverflowError):
        # The last net for a number from a URL or form too large to look up (SECURITY.md 36).
        return 400, "A number in the address or the form is out of range. Go back and try again."
    return 500, "An unexpected error happened. It was logged; try again, and tell an admin if it happens again."


def handle_exception(e: Exception):
    if isinstance(e, HTTPException) and (e.code or 500) < 400:
        return e  # routing redirects
    code, message = describe(e)
    if code >= 500:
        log.exception("unhandled error on %s %s", request.method, request.path)
    if request.headers.get("X-Requested-With") == "fetch":
        payload = {"ok": False, "error": message}
        if isinstance(e, ReviewConflict):
            payload["version"] = e.current.version  # so the page (or a client) can act again knowingly
        return jsonify(payload), code
    return render_template("error.html", code=code, title=TITLES.get(code, "Error"), message=message), code


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle_exception)
