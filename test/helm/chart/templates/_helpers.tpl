{{- define "ray-demo.head" -}}
{{ .Release.Name }}-ray-head-svc
{{- end -}}
