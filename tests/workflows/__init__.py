"""Tests of whole workflows: operators, the shell, the demo, training and rendering end to end."""
