"""One host's survey, apply, rollback and handlers, and the fleet fan-out with batches."""
