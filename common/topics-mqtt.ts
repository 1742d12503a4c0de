/** MQTT topics of the contract. */
export const mqttTopics = {
  telemetry: (site: string, line: string, machineId: string) =>
    `factory/${site}/${line}/${machineId}/telemetry`,
  /** Per-machine lifecycle events (epoch changes with the seq range they skipped). */
  events: (site: string, line: string, machineId: string) => `factory/${site}/${line}/${machineId}/events`,
  status: (site: string, line: string, gatewayId: string) => `factory/${site}/${line}/status/${gatewayId}`,
} as const;
