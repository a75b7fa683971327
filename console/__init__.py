"""The command-line tools' console, below every command package (`datasets`, `trainers`, `export`, `bench`).

- `console.quiet`: quiet by default, `-v N` brings the frameworks' own lines back (`configure_command_line`).
- `console.tensorflow_import`: TensorFlow's first import, wherever a command makes it, without its load-time
  lines; one line saying what to install when a command needs TensorFlow and it is missing.
- `console.keras_backend`: the JAX backend when TensorFlow is not installed and KERAS_BACKEND is unset.

Importing these modules imports neither TensorFlow nor Keras.
"""
