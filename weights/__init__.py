"""The shipped model files (``*.safetensors``) and their manifest (``manifest.json``); read by aec.model_files."""
