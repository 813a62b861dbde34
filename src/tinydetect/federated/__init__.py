"""Federated averaging of the page's head on Flower: browsers (over HTTP) and Python clients (over Flower's gRPC)
train the global head on their own feedback and send only the change; the server averages with Flower's FedAvg."""
