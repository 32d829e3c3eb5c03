"""Polls, quizzes and the satisfaction survey as a pure domain (no I/O; time is a parameter).

model.py (kinds, states, the poll value), lifecycle.py (draft → open → closed), answers.py (who may
answer, vote-once, closing, time limits, normalising an answer), results.py (tallies by stakeholder
group), words.py (word cloud weights from segmented text), scoring.py (quiz scores, pass marks),
survey.py (the post-event survey: one answer per participant, its summary).
"""
