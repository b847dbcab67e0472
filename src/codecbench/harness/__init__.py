"""The evaluation harness: plan, tasks, executors, the results store and schema, aggregation and provenance of a run."""
