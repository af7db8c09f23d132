"""Values only: facts, targets, plans, findings, outcomes, run manifests and their JSON codecs."""
