from questionnaire.cli import main

main(prog_name="aimsq")
