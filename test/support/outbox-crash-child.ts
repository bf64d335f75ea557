/**
 * A webhook write that dies between storing a change and publishing it: applies one delivery to
 * the meetings table (dynalite at DYNAMODB_ENDPOINT), then starts publishing through a bus that
 * never answers and says so on stdout; the parent kills this process there (SIGKILL).
 */
import { createDynamoClients } from '../../functions/adapters/dynamo.js';
import { publishWritten } from '../../functions/flows/meeting-events.js';
import { createMeetingStore } from '../../functions/store/meetings/index.js';
import type { MeetingUpdate } from '../../functions/domain/meeting/index.js';

const { doc } = createDynamoClients({ endpoint: process.env.DYNAMODB_ENDPOINT as string });
const meetings = createMeetingStore(doc, process.env.MEETINGS_TABLE as string);
const update = JSON.parse(process.env.UPDATE as string) as MeetingUpdate;
const result = await meetings.apply(process.env.USER_ID as string, update);
process.stdout.write(`stored ${result.outcome}\n`);
await publishWritten(
  {
    publisher: {
      publish: () => {
        process.stdout.write('publishing\n');
        setInterval(() => {}, 60_000); // stay alive until killed
        return new Promise(() => {}); // the bus never answers: the process dies here
      },
    },
    meetings,
    metric: () => {},
  },
  result.written,
);
