"""The instructors' tools: the student edition (make_student), the files both it and the grader use
(layout), grading one submission (grade: the grading and its command line; merge: the notebook it
runs; nbval_report: nbval's verdict on each cell; result: the result and its JSON; judge: the
references; grading_probe: what the student's kernel runs; supervision: the processes), a batch
(grade_batch) and Gradescope's autograder (gradescope). Not handed out: the references are the
answers."""
