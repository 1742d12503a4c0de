/**
 * A partition assigner for a consumer group whose topics are co-partitioned (same key, same
 * partition count): partition p of every topic goes to the same member. The analytics
 * processor needs it: a machine's readings (`telemetry`) and the commands for its alarms
 * (`alarm-commands`) must reach the one instance that owns its state. kafkajs's round-robin
 * assigner deals topic-partitions out one by one and would split them.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** Partition p of every topic → the (p mod n)-th member in id order. Pure. */
export function coPartitioned(
  memberIds: string[],
  partitions: Record<string, number[]>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, list] of Object.entries(partitions)) {
    for (const p of list) {
      const a = out.get(members[p % members.length]!)!;
      a[topic] = [...(a[topic] ?? []), p];
    }
  }
  return out;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitionedAssigner',
  version: 1,
  async assign({ members, topics }) {
    const partitions = Object.fromEntries(
      topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]),
    );
    const plan = coPartitioned(
      members.map((m) => m.memberId),
      partitions,
    );
    return [...plan].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: 'CoPartitionedAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
