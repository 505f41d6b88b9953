// Tracing of HTTP requests: one server span per request, whose trace id is
// also the request id (X-Request-Id, the error envelope's requestId, the
// access log and the audit log), so that a user's error report leads
// straight to the trace. Spans of SQL (otelpgx) and outbound calls hang
// under it through the request's context.
package handlers

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/nectarcloud/nls/handlers"

// fiberCarrier reads W3C trace-context headers from a Fiber request.
type fiberCarrier struct{ c *fiber.Ctx }

func (f fiberCarrier) Get(key string) string { return f.c.Get(key) }
func (f fiberCarrier) Set(string, string)    {}
func (f fiberCarrier) Keys() []string        { return []string{"traceparent", "tracestate"} }

var traceContext = propagation.TraceContext{}

// tracedRequest is requestID with tracing on. A caller's traceparent is
// continued only from a trusted proxy, for the same reason as its
// X-Request-Id: anyone else could choose the id our logs and audit rows
// carry. Their X-Request-Id is then logged beside ours as caller_request_id.
func (s *Server) tracedRequest(c *fiber.Ctx, trusted bool) error {
	ctx := c.UserContext()
	if trusted {
		ctx = traceContext.Extract(ctx, fiberCarrier{c})
	}
	method := c.Method()
	ctx, span := s.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("url.path", c.Path()),
			attribute.String("client.address", c.IP())))
	defer span.End()
	id := span.SpanContext().TraceID().String()
	if theirs := c.Get(fiber.HeaderXRequestID); theirs != "" && theirs != id {
		c.Locals(localCallerRequestID, sanitizedRequestID(theirs))
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	c.SetUserContext(ctx)

	err := c.Next() // accessLog below has rendered any error: the status is final
	route := routeOf(c)
	status := c.Response().StatusCode()
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	return err
}

// traceIDOf is the request's trace id, or "" when tracing is off.
func traceIDOf(c *fiber.Ctx) string {
	sc := trace.SpanContextFromContext(c.UserContext())
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// outboundTransport makes each outbound HTTP call (Stripe's API) a client
// span under the request's span, and sends the trace context along.
func outboundTransport(tp trace.TracerProvider) http.RoundTripper {
	if tp == nil {
		return http.DefaultTransport
	}
	return otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(traceContext))
}
