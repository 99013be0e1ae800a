package crm

import "context"

// Prefetch looks the caller up and returns the answer's fields (extension,
// name, account), so that a *Client is the ivr runtime's prefetcher of kind
// crm as it is (ivr.Prefetcher).
func (c *Client) Prefetch(ctx context.Context, callerID string) (map[string]string, error) {
	r, err := c.Lookup(ctx, callerID)
	if err != nil {
		return nil, err
	}
	return r.Fields(), nil
}
