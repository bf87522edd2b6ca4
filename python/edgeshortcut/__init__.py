"""EdgeShortcut in PyTorch: the shortcut GPT (arXiv 2409.10870) and its plain baseline, trained with
DDP under torchrun, reading and writing the checkpoint format of docs/FORMAT.md (the C# trainer's).

Entry points are ../train.py and ../eval.py; docs/DISTRIBUTED.md says how to launch them.
"""
