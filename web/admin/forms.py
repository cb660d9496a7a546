from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from questionnaire.review_db import ROLES

ROLE_CHOICES = [SelectChoice(r, r) for r in ROLES]


class AddUserForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=80)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="editor")
    password = PasswordField("Password (leave empty to generate one)", validators=[Optional(), Length(max=200)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
