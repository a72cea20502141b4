package providers

import (
	"fmt"
	"io"
	"net/http"
)

// Send makes one HTTP call of upstream name through hc and reads at most
// limit bytes of the answer. A call that failed, or an answer that could
// not be read, is ErrUnavailable (see TransportError), described without
// the URL, which can carry a token. Every status is the caller's to read.
// Under a context from WithRecording, the exchange is kept for the audit.
func Send(hc *http.Client, req *http.Request, name string, limit int64) (int, []byte, error) {
	rec := recordRequest(req)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, TransportError(name, req.Context().Err(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w: reading answer: %s", name, ErrUnavailable, TransportReason(err))
	}
	rec.recordResponse(resp, b)
	return resp.StatusCode, b, nil
}

// Call is Send for the buyers and the CRM, which mean the same by the
// same statuses: 401 and 403 are ErrUnauthorized, 429 and 5xx a
// StatusError (detail, when not nil, describes the answer's body). Any
// other status, 4xx included, is left to the caller: some upstreams
// answer a decision with one (Casheddy's 422).
func Call(hc *http.Client, req *http.Request, name string, limit int64, detail func([]byte) string) (int, []byte, error) {
	status, b, err := Send(hc, req, name, limit)
	switch {
	case err != nil:
		return 0, nil, err
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return 0, nil, fmt.Errorf("%s: %w: status %d", name, ErrUnauthorized, status)
	case status >= 500 || status == http.StatusTooManyRequests:
		d := ""
		if detail != nil {
			d = detail(b)
		}
		return 0, nil, StatusError(name, status, d)
	}
	return status, b, nil
}
