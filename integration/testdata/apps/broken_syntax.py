"""An app module that does not even compile, for --check-config."""
def app(environ, start_response)
    return []
