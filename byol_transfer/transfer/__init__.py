"""Transfer: how well pretrained weights serve a task, as the number of labels grows.

- :mod:`.sweep`: the one grid driver (inits × seeds × fractions × evaluators over a task);
- :mod:`.tasks`: classification and segmentation (data, model, loss, metrics, augmentation, outputs);
- :mod:`.evaluators`: one module per evaluator, each with its own settings, in a registry per task;
- :mod:`.finetune`: the one fine-tuning loop both tasks run, with task hooks;
- :mod:`.inits`: BYOL exports, random init and local weights files as comparable inits;
- :mod:`.splits`, :mod:`.report`, :mod:`.plots`, :mod:`.metrics`, :mod:`.geometry`.
"""
