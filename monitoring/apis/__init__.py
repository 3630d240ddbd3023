"""REST API (DRF): each view validates with an InputSerializer, calls one service, answers an OutputSerializer."""
