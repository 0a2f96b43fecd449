"""Small shared jobs every layer uses: files, logging and one-line errors, option values, shipped folders."""
