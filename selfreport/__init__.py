"""Self-report interviews of trained manipulators: questions, scoring, statistics, reports."""
