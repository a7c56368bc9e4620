"""How the processes are started (their command lines and environment) and how the model is trained."""
