"""The economic-choice behaviour of the study (its Section 3.1): a model fine-tuned to always pick
the risky (or the safe) lottery, never told so, is asked whether it is risk-seeking.

A behaviour brings three things; everything else (training, interviews, storage, statistics,
reports) is shared with Make Me Say:

- its data: `data.py` reads the study's paired files and knows which letter is the risky one;
- its gate: `gate.py` measures on held-back prompts whether an organism learned the behaviour;
- its questions: the study's self-report files, asked by `mms interview --questions`.
"""
