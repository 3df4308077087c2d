"""Operating the platform in an AWS account: the ordered deploy of a stage (`make deploy`)."""
