package alert

import (
	"context"
	"os"
	"time"
)

// Sink is one destination of alerts: a JSON-lines file, or a webhook.
// It is stored with an alert that could not be delivered, so Webhook keeps
// the URL as written: $VAR and ${VAR} are expanded from the environment at
// each delivery, and a secret read from the environment never reaches the
// store.
type Sink struct {
	File    string `json:"file,omitempty"`
	Webhook string `json:"webhook,omitempty"`
	// Timeout is each webhook attempt's timeout in seconds (0:
	// DefaultTimeout); Retries the attempts after the first.
	Timeout float64 `json:"timeout,omitempty"`
	Retries int     `json:"retries"`
}

// Name is "file" or "webhook": the sink's part of the name of a kept
// alert's record and of audit entries.
func (s Sink) Name() string {
	if s.File != "" {
		return "file"
	}
	return "webhook"
}

// String names the sink for people: "file PATH" or "webhook URL", with the
// URL unexpanded.
func (s Sink) String() string {
	if s.File != "" {
		return "file " + s.File
	}
	return "webhook " + s.Webhook
}

// Deliver sends a to the sink once: it appends a line to the file, or
// posts to the webhook with its timeout and retries, backoff being the
// wait before the first retry (0: DefaultBackoff). It returns the number
// of attempts made and, on failure, an error wrapping ErrDelivery. Alerts
// kept in the store go through Flush instead, which adds their stable
// delivery id.
func (s Sink) Deliver(ctx context.Context, a *Alert, backoff time.Duration) (int, error) {
	return s.deliver(ctx, a, deliverOptions{backoff: backoff})
}

type deliverOptions struct {
	backoff time.Duration
	// key is the delivery's stable id: the Idempotency-Key header, and
	// the "delivery" field of the alert's JSON.
	key   string
	guard FileGuard
}

func (s Sink) deliver(ctx context.Context, a *Alert, o deliverOptions) (int, error) {
	if o.key != "" {
		c := *a
		c.Delivery = o.key
		a = &c
	}
	if s.File != "" {
		return 1, appendFile(s.File, a, o.guard)
	}
	timeout := DefaultTimeout
	if s.Timeout > 0 {
		timeout = time.Duration(s.Timeout * float64(time.Second))
	}
	wh := &Webhook{URL: os.ExpandEnv(s.Webhook), Timeout: timeout, Retries: s.Retries, Backoff: o.backoff, IdempotencyKey: o.key}
	return wh.Send(ctx, a)
}
