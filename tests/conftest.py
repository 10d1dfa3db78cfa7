pytest_plugins = ["tests.support.moto_server", "tests.support.awsbed"]
