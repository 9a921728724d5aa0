"""Tables, figures and reports, rendered from the ARD only."""
