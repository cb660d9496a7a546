"""Forms more than one blueprint uses."""
from flask_wtf import FlaskForm


class ButtonForm(FlaskForm):
    """Button only (propose answers, bulk accept, export, activate a user, …); carries the CSRF token."""
