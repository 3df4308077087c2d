"""Reference serving stacks the serving benchmark measures this project's server against."""
