from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

# No FileAllowed on the name: the type comes from the content (SECURITY.md
# case 8), and ingest's guard names the problem better than an extension
# check could ("legacy format, save as .xlsx", "encrypted", ...).


class UploadForm(FlaskForm):
    file = FileField("Questionnaire file (.xlsx, .csv or .docx)", validators=[
        FileRequired("choose the customer's questionnaire file"),
    ])
    customer = StringField("Customer", validators=[DataRequired(), Length(max=200)])
    due_date = DateField("Due date", validators=[Optional()])


class LayoutForm(FlaskForm):
    sheet = StringField("Sheet", validators=[Optional(), Length(max=200)])
    question_col = StringField("Question column", validators=[Optional(), Length(max=200)])
    answer_col = StringField("Answer column", validators=[Optional(), Length(max=200)])
    comment_col = StringField("Comment column", validators=[Optional(), Length(max=200)])
    # Workbooks: the sheets to read, ticked on the page (sheet_choice marks that the list was shown)
    sheets = SelectMultipleField("Sheets to read", choices=[], validate_choice=False)
    sheet_choice = HiddenField()


class ReviewActionForm(FlaskForm):
    action = StringField(validators=[DataRequired(), Length(max=300)])
    version = IntegerField(validators=[Optional()])
    short_answer = StringField(validators=[Optional(), Length(max=20)])
    narrative = TextAreaField(validators=[Optional(), Length(max=40000)])
    note = StringField(validators=[Optional(), Length(max=2000)])
    confirmed = HiddenField()  # "1": the reviewer confirmed using a weak alternative


class ExportForm(FlaskForm):
    """Export button; `confirm` is set on the warning page, when questions are still pending."""
    confirm = HiddenField()
