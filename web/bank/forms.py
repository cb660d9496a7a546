from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from answer_bank.model import SHORT_ANSWERS
from ingest.cells import CELL_LIMIT

SHORT_CHOICES = [SelectChoice("", "(none)")] + [SelectChoice(s, s) for s in SHORT_ANSWERS]


class EntryForm(FlaskForm):
    """A proposed bank entry or a proposed change to one."""

    ext_id = StringField("Entry id", validators=[Optional(), Length(max=200), Regexp(r"^[^\s/\\]+$", message="no spaces or slashes")])
    question = TextAreaField("Canonical question", validators=[DataRequired(), Length(max=5000)])
    answer = TextAreaField("Answer", validators=[DataRequired(), Length(max=CELL_LIMIT)])
    short_answer = SelectField("Short answer", choices=SHORT_CHOICES, default="")
    variants = TextAreaField("Other phrasings (one per line)", validators=[Length(max=50000)])
    evidence = TextAreaField("Evidence (one per line: title | link or document reference)", validators=[Length(max=20000)])
    frameworks = StringField("Framework references (; separated)", validators=[Length(max=5000)])
    tags = StringField("Tags (; separated)", validators=[Length(max=2000)])
    review_by = DateField("Review by", validators=[Optional()])
    note = StringField("Why (for the approver)", validators=[Length(max=2000)])
    base_version = HiddenField(validators=[Optional(), Regexp(r"^\d{1,9}$", message="a version number")])


class DecisionForm(FlaskForm):
    note = StringField("Note", validators=[Length(max=2000)])
    ext_id = HiddenField()
    # The version the page showed: approving a draft that changed since is a conflict.
    base_version = HiddenField(validators=[Optional(), Regexp(r"^\d{1,9}$", message="a version number")])


class GlossaryForm(FlaskForm):
    """Two terms that mean the same in this bank's questionnaires."""

    term = StringField("Term", validators=[DataRequired(message="give a term"), Length(max=200)])
    equivalent = StringField("Means the same as", validators=[DataRequired(message="give the term it means the same as"),
                                                             Length(max=200)])


class GlossaryDistinctForm(FlaskForm):
    """Two terms that are NOT the same in this bank's questionnaires."""

    term = StringField("Term", validators=[DataRequired(message="give a term"), Length(max=200)])
    equivalent = StringField("Is not the same as", validators=[
        DataRequired(message="give the term it is not the same as"), Length(max=200)])


class GlossaryImportForm(FlaskForm):
    """A glossary file: another bank's `aimsq bank glossary list --json`, or a CSV term,equivalent[,kind]."""

    file = FileField("Glossary file (.json or .csv)", validators=[FileRequired("choose a glossary file")])


class GlossaryRemoveForm(FlaskForm):
    """Remove one pair of the glossary (a button: still a form with a CSRF token)."""

    term = HiddenField(validators=[DataRequired(), Length(max=200)])
    equivalent = HiddenField(validators=[DataRequired(), Length(max=200)])
