"""The build side: CodeBuild buildspecs (render, validate) and the SonarQube gate.

Nothing here runs at import time; jinja2 and requests are imported only by the
functions that need them, so ``hdhooks buildspec validate`` starts fast.
"""
