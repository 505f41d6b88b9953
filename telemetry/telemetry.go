// Package telemetry sets up OpenTelemetry tracing from the standard OTEL_*
// environment variables: off unless an OTLP endpoint or an exporter is named,
// so a portal nobody configured sends nothing anywhere.
//
// main builds one Tracing and hands its TracerProvider to whatever makes
// spans: the HTTP middleware (handlers.Deps.Tracer), the pgx pool
// (db.WithTracer), outbound HTTP clients (Transport) and the job engine
// (River's otelriver middleware takes the same provider).
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the process's tracer provider, or nothing when tracing is off.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil: off
}

// Enabled says whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Provider is the tracer provider to pass to instrumentation; nil when off,
// so callers skip instrumenting rather than pay for no-op spans.
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.provider
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports the spans ended so far (tests, and before a planned exit).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// Wanted reads the standard variables: tracing is on when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// or OTEL_TRACES_EXPORTER names otlp; OTEL_TRACES_EXPORTER=none and
// OTEL_SDK_DISABLED=true turn it off whatever else is set.
func Wanted(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER: expected otlp or none, got %q", exp)
	}
	if p := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")); p == "" {
		p = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
		if p != "" && p != "http/protobuf" {
			return false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is built in, got %q", p)
		}
	} else if p != "http/protobuf" {
		return false, fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: only http/protobuf is built in, got %q", p)
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
}

// Setup starts tracing when the environment asks for it (see Wanted). The
// OTLP/HTTP exporter, the sampler (OTEL_TRACES_SAMPLER) and the batching
// (OTEL_BSP_*) read their own variables; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name the process, "nls" by default. The provider
// and W3C trace-context propagation also become OpenTelemetry's globals, for
// libraries that only look there.
func Setup(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	on, err := Wanted(getenv)
	if err != nil || !on {
		return &Tracing{}, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	attrs := []resource.Option{resource.WithAttributes(semconv.ServiceName("nls")), resource.WithFromEnv(),
		resource.WithTelemetrySDK(), resource.WithHost()}
	if version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(version)))
	}
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Tracing{provider: tp}, nil
}

// Transport wraps base (nil: http.DefaultTransport) so that each outbound
// request is a client span and carries the trace context; with tracing off
// it returns base unchanged.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.Enabled() {
		return base
	}
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(otel.GetTextMapPropagator()))
}
