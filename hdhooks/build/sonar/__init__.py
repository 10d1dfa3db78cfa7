"""SonarQube gate."""
