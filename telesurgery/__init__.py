"""Remote robotic surgery for medlink: surgeon console and robot streams, clinical budgets."""
