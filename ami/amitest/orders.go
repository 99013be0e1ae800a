package amitest

func observedOrders(k OutcomeKind) []Order { return nil }
