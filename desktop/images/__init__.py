"""Images in the GUI: thumbnails, attachments on chat messages and the image-search panel."""
