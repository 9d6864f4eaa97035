"""Plug-ins for autotuners people already run: an Optuna sampler, a CompilerGym reward.

``costtune.integrations.optuna`` imports optuna; ``costtune.integrations.compiler_gym``
runs inside a CompilerGym virtualenv (see its docstring). Neither is imported here.
"""
