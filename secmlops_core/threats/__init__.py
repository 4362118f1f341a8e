"""STRIDE threat engine: rules over the pipeline graph, risk scoring, attack paths, register."""
