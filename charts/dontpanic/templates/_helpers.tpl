{{/*
Chart name, truncated to 63 characters (DNS label limit).
*/}}
{{- define "dontpanic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. If the release name already contains the chart
name it is used as is.
*/}}
{{- define "dontpanic.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name for cluster-scoped objects (ClusterRole, ClusterRoleBinding): includes
the release namespace so releases of the same name in different namespaces
do not collide.
*/}}
{{- define "dontpanic.clusterName" -}}
{{- printf "%s-%s" (include "dontpanic.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "dontpanic.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "dontpanic.labels" -}}
helm.sh/chart: {{ include "dontpanic.chart" . }}
{{ include "dontpanic.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: dontpanic
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (immutable once deployed).
*/}}
{{- define "dontpanic.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dontpanic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "dontpanic.serviceAccountName" -}}
{{- default (include "dontpanic.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
Container image reference.
*/}}
{{- define "dontpanic.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
RBAC subject: the operator's ServiceAccount.
*/}}
{{- define "dontpanic.subject" -}}
- kind: ServiceAccount
  name: {{ include "dontpanic.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
Rules for namespaced resources. Granted cluster-wide by the ClusterRole, or
by a Role in .Values.watchNamespace when set.
*/}}
{{- define "dontpanic.namespacedRules" -}}
- apiGroups: ["dontpanic.dev"]
  resources: ["incidents"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["dontpanic.dev"]
  resources: ["incidents/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["dontpanic.dev"]
  resources: ["playbooks"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["dontpanic.dev"]
  resources: ["playbooks/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "patch"]
# patch on replicasets: the known-bad and healthy-at annotations rollbacks choose by.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "create", "patch", "update"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
