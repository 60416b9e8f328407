"""The chat area: messages rendered from Markdown, the composer and the streaming session."""
