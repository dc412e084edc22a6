"""The evaluation runner: one loop per task kind (generate, retrieve), shared by every task.

Tasks and models meet only here, through the task registry (`tasks.get`) and the model API (`blip2`),
so adding a task or a model is a local change on one side. The entry point is `bench.runner.run.run_all`.
"""
