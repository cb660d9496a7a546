from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

# Names ingest can read or explain (legacy and macro formats get a clear
# message from ingest itself); the type is checked again from the content.
UPLOAD_EXTENSIONS = ["xlsx", "xlsm", "xls", "csv", "docx", "docm", "doc"]


class UploadForm(FlaskForm):
    file = FileField("Questionnaire file (.xlsx, .csv or .docx)", validators=[
        FileRequired("choose the customer's questionnaire file"),
        FileAllowed(UPLOAD_EXTENSIONS, "aimsq reads .xlsx, .csv and .docx questionnaires"),
    ])
    customer = StringField("Customer", validators=[DataRequired(), Length(max=200)])
    due_date = DateField("Due date", validators=[Optional()])


class LayoutForm(FlaskForm):
    sheet = StringField("Sheet", validators=[Optional(), Length(max=200)])
    question_col = StringField("Question column", validators=[Optional(), Length(max=200)])
    answer_col = StringField("Answer column", validators=[Optional(), Length(max=200)])
    comment_col = StringField("Comment column", validators=[Optional(), Length(max=200)])


class ButtonForm(FlaskForm):
    """Button only (propose answers, bulk accept, export); carries the CSRF token."""


class ReviewActionForm(FlaskForm):
    action = StringField(validators=[DataRequired(), Length(max=300)])
    version = IntegerField(validators=[Optional()])
    short_answer = StringField(validators=[Optional(), Length(max=20)])
    narrative = TextAreaField(validators=[Optional(), Length(max=40000)])
    note = StringField(validators=[Optional(), Length(max=2000)])
