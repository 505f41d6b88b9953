{{/* Names, labels and the pieces the portal, worker and migration pods share. */}}

{{- define "nls.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nls.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nls.labels" -}}
{{ include "nls.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "nls.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "nls.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "nls.fullname" .)) -}}
{{- end -}}

{{- define "nls.keysSecretName" -}}
{{- .Values.signingKeys.existingSecret | default (printf "%s-signing-keys" (include "nls.fullname" .)) -}}
{{- end -}}

{{- define "nls.registryKeysSecretName" -}}
{{- .Values.registryKeys.existingSecret | default (printf "%s-registry-keys" (include "nls.fullname" .)) -}}
{{- end -}}

{{/* Refuses values that would start replicas that disagree or cannot drain. */}}
{{- define "nls.validate" -}}
{{- if and (not .Values.secrets.existingSecret) (or (lt (len .Values.secrets.sessionSecret) 32) (lt (len .Values.secrets.sealKey) 32)) -}}
{{- fail "secrets.sessionSecret and secrets.sealKey (32+ characters each: openssl rand -hex 32), or secrets.existingSecret, are required: every replica must share them" -}}
{{- end -}}
{{- if and (not .Values.signingKeys.existingSecret) (not .Values.signingKeys.files) -}}
{{- fail "signingKeys.existingSecret or signingKeys.files is required: every replica must sign with the same keys (see deploy/README.md)" -}}
{{- end -}}
{{- if and (not .Values.registryKeys.existingSecret) (not .Values.registryKeys.files) -}}
{{- fail "registryKeys.existingSecret or registryKeys.files is required: every replica must sign registry tokens with the keys the registry trusts (see deploy/README.md)" -}}
{{- end -}}
{{- if and (not .Values.database.url) (not .Values.database.existingSecret) -}}
{{- fail "database.url or database.existingSecret is required" -}}
{{- end -}}
{{- $drain := add (int .Values.preStopSleepSeconds) (int (trimSuffix "s" .Values.shutdownTimeout)) -}}
{{- if le (int .Values.terminationGracePeriodSeconds) $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + shutdownTimeout (%d s)" (int .Values.terminationGracePeriodSeconds) $drain) -}}
{{- end -}}
{{- end -}}

{{/* The environment of every portal container. */}}
{{- define "nls.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.database.existingSecret }}
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
      {{- else }}
      name: {{ include "nls.secretName" . }}
      key: DATABASE_URL
      {{- end }}
- name: NLS_SESSION_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "nls.secretName" . }}
      key: NLS_SESSION_SECRET
- name: NLS_SEAL_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "nls.secretName" . }}
      key: NLS_SEAL_KEY
{{- range $key := list "NLS_SESSION_SECRET_PREVIOUS" "NLS_DOWNLOAD_SECRET" "NLS_METRICS_TOKEN" "STRIPE_WEBHOOK_SECRET" "STRIPE_SECRET_KEY" "NLS_SMTP_URL" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "nls.secretName" $ }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- if .Values.redisURL }}
- name: REDIS_URL
  value: {{ .Values.redisURL | quote }}
{{- end }}
{{- if .Values.smtpFrom }}
- name: NLS_SMTP_FROM
  value: {{ .Values.smtpFrom | quote }}
{{- end }}
- name: NLS_BASE_URL
  value: {{ .Values.baseURL | quote }}
- name: NLS_DB_MAX_CONNS
  value: {{ .Values.database.maxConns | quote }}
- name: NLS_MIGRATE_ON_START
  value: "false"
- name: NLS_SEED
  value: "false"
- name: NLS_LOG_FORMAT
  value: json
- name: NLS_SHUTDOWN_TIMEOUT
  value: {{ .Values.shutdownTimeout | quote }}
- name: NLS_DATA_DIR
  value: /var/lib/nls
- name: NLS_KEYS_DIR
  value: /var/lib/nls/keys
- name: NLS_REGISTRY_KEYS_DIR
  value: /var/lib/nls/registry-keys
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level pieces: the keys init container and the volumes. */}}
{{- define "nls.keysInit" -}}
- name: keys
  image: {{ .Values.keysInit.image }}
  imagePullPolicy: {{ .Values.keysInit.pullPolicy }}
  command: ["sh", "-c", "cp /secret/* /keys/ && chmod 0600 /keys/* && cp /registry-secret/* /registry-keys/ && chmod 0600 /registry-keys/*"]
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: keys-secret
      mountPath: /secret
      readOnly: true
    - name: keys
      mountPath: /keys
    - name: registry-keys-secret
      mountPath: /registry-secret
      readOnly: true
    - name: registry-keys
      mountPath: /registry-keys
{{- end -}}

{{- define "nls.volumes" -}}
- name: keys-secret
  secret:
    secretName: {{ include "nls.keysSecretName" . }}
- name: keys
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: registry-keys-secret
  secret:
    secretName: {{ include "nls.registryKeysSecretName" . }}
- name: registry-keys
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: data
  emptyDir:
    sizeLimit: 64Mi
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "nls.volumeMounts" -}}
- name: keys
  mountPath: /var/lib/nls/keys
  readOnly: true
- name: registry-keys
  mountPath: /var/lib/nls/registry-keys
  readOnly: true
- name: data
  mountPath: /var/lib/nls
- name: tmp
  mountPath: /tmp
{{- end -}}
