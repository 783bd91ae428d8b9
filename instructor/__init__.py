"""The instructors' tools: the student edition (make_student), grading one submission (grade: the
merge and the report; judge: the references; grading_probe: what the student's kernel runs;
supervision: the processes), a batch (grade_batch) and Gradescope's autograder (gradescope).
Not handed out: the references are the answers."""
