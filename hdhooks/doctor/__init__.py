"""``hdhooks doctor``: can this instance (or the image being baked) take deployments?

Each check looks at one thing a deployment needs (hdhooks itself, Python,
the CodeDeploy agent, instance metadata, credentials, the network, the
clock, disks, state directories, component configs, IAM) and answers ok,
warn or fail with the fix. AWS calls go through ``hdhooks.aws.probe``; this
package imports neither boto3 nor click.
"""
