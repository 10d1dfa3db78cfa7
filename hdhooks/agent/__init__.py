"""A local CodeDeploy agent: ``hdhooks local deploy``.

Runs a whole deployment on this machine the way the AWS CodeDeploy agent
(and its ``codedeploy-local`` mode) does: same deployment root layout, same
Install semantics, same hook execution and result codes. The modules split
the work by concern: ``events`` (which events run, in which order), ``bundle``
(bundle types, staging), ``archive`` with ``untar``/``unzip`` (the one checked
extractor), ``instructions``/``install``/``permissions`` (the Install step),
``scripts`` (hook execution; ``hdhooks.proc`` ends the trees), ``layout`` (the root),
``plan``/``runner`` (plan, then execute) and ``report`` (what the user sees).
"""
