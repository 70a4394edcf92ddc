"""The node canvas: a QGraphicsScene that mirrors one network and the view that edits it."""
