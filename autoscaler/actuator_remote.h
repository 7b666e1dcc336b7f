/*
 * actuator_remote.h - the actuators that change a fleet someone else runs:
 *
 *   kubernetes  the scale subresource of a Deployment (apps/v1):
 *                 GET   {api}/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale
 *                       -> status.replicas is "running now" (spec.replicas
 *                          while the status is absent)
 *                 PATCH the same path, Content-Type
 *                       application/merge-patch+json, {"spec":{"replicas":N}}
 *               with "Authorization: Bearer TOKEN". In a pod (no --k8s-api-url)
 *               the API is https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 *               the token and CA are the service account's files under
 *               /var/run/secrets/kubernetes.io/serviceaccount/ (the token file
 *               is read again for each request: bound tokens rotate), and the
 *               namespace defaults to that directory's `namespace` file.
 *               Outside, --k8s-api-url and the token from
 *               BOUNTYFLEET_K8S_TOKEN (or _FILE). Each request has a 10 s
 *               deadline; the PATCH is only sent when the replicas differ.
 *   command     an operator's command run with {replicas} replaced by the
 *               count, e.g. `docker compose up -d --scale worker={replicas}`;
 *               split on spaces, no shell; run when the target changes (or
 *               the last run failed), waited for up to --command-timeout,
 *               killed after it. "Running now" is the last count it applied.
 *
 * Both are created through actuator.h; these are the kinds' constructors
 * and operations for its table.
 */
#ifndef BF_AUTOSCALER_ACTUATOR_REMOTE_H
#define BF_AUTOSCALER_ACTUATOR_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "autoscaler/actuator.h"
#include "libbf/err.h"

/* Where the kubelet mounts a pod's service account. */
#define BF_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

void *bf_actuator_k8s_create(const bf_actuator_conf_t *conf, char *errstr,
                             size_t errstr_size);
int64_t bf_actuator_k8s_current(void *self);
bf_err_t bf_actuator_k8s_apply(void *self, int64_t target, char *errstr,
                               size_t errstr_size);
void bf_actuator_k8s_destroy(void *self);

void *bf_actuator_command_create(const bf_actuator_conf_t *conf, char *errstr,
                                 size_t errstr_size);
int64_t bf_actuator_command_current(void *self);
bf_err_t bf_actuator_command_apply(void *self, int64_t target, char *errstr,
                                   size_t errstr_size);
void bf_actuator_command_destroy(void *self);

#endif
