'use strict';
/*
 * An echo bot written the way LivePerson's agent SDK documentation and examples write bots,
 * on the unmodified SDK (node-agent-sdk 1.2.0), pointed at mockle only through `csdsDomain`.
 *
 * Configuration (environment): ACCOUNT, CSDS (host:port of mockle's Domain API), and either
 * BOT_USER + BOT_PASSWORD (Login Service) or BOT_TOKEN + BOT_USER_ID (token auth, no login).
 * RECONNECT=1: on a close, log in again and reconnect (agent.reconnect()).
 *
 * Every step is written to stdout as one JSON line, so a test can wait for it:
 *   {"event":"connected"} {"event":"ring","ringId":...} {"event":"accepted",...}
 *   {"event":"joined","convId":...,"profile":[...]} {"event":"message","text":...}
 *   {"event":"closed","code":...} {"event":"error","message":...} {"event":"warn",...}
 */
const Agent = require('node-agent-sdk').Agent;

const env = process.env;
const conf = { accountId: env.ACCOUNT, csdsDomain: env.CSDS };
if (env.BOT_TOKEN) {
    conf.token = env.BOT_TOKEN;
    conf.userId = env.BOT_USER_ID;
} else {
    conf.username = env.BOT_USER;
    conf.password = env.BOT_PASSWORD;
}

function log(event, fields) {
    process.stdout.write(JSON.stringify(Object.assign({ event: event }, fields || {})) + '\n');
}

const agent = new Agent(conf);
const conversations = {};  // convId -> {consumerId, answered: Set of sequences}
let clock = null;

agent.on('connected', () => {
    log('connected', { agentId: agent.agentId, userId: agent.userId });
    agent.setAgentState({ availability: 'ONLINE' }, (err, body) => {
        log('state', { err: err ? err.body : null, body: body });
    });
    agent.subscribeExConversations({ agentIds: [agent.agentId], convState: ['OPEN'] }, (err, body) => {
        log('subscribed', { what: 'conversations', err: err ? err.body : null, body: body });
    });
    agent.subscribeRoutingTasks({}, (err, body) => {
        log('subscribed', { what: 'routing', err: err ? err.body : null, body: body });
    });
    if (clock === null) {
        clock = setInterval(() => agent.getClock({}, () => {}), 30000);
        clock.unref();
    }
});

agent.on('routing.RoutingTaskNotification', body => {
    body.changes.forEach(change => {
        if (change.type !== 'UPSERT') {
            return;
        }
        change.result.ringsDetails.forEach(ring => {
            log('ring', { ringId: ring.ringId, ringState: ring.ringState, taskCompleted: change.result.taskCompleted });
            if (ring.ringState === 'WAITING') {
                agent.updateRingState({ ringId: ring.ringId, ringState: 'ACCEPTED' }, (err, resp) => {
                    log('accepted', { ringId: ring.ringId, err: err ? err.body : null, body: resp });
                });
            }
        });
    });
});

agent.on('cqm.ExConversationChangeNotification', body => {
    body.changes.forEach(change => {
        const convId = change.result.convId;
        if (change.type === 'DELETE') {
            delete conversations[convId];
            log('gone', { convId: convId });
            return;
        }
        const details = change.result.conversationDetails;
        const mine = details.participants.some(p => p.id === agent.agentId);
        if (!mine || conversations[convId]) {
            return;
        }
        const consumer = details.participants.find(p => p.role === 'CONSUMER');
        conversations[convId] = { consumerId: consumer && consumer.id, answered: new Set() };
        agent.getUserProfile(consumer.id, (err, profile) => {
            log('joined', { convId: convId, role: change.result.conversationDetails.participants.find(p => p.id === agent.agentId).role, profile: profile, err: err ? err.body : null });
            agent.publishEvent({
                dialogId: convId,
                event: { type: 'ContentEvent', contentType: 'text/plain', message: 'Just joined to conversation' }
            });
            agent.subscribeMessagingEvents({ dialogId: convId });
        });
    });
});

agent.on('ms.MessagingEventNotification', body => {
    const conv = conversations[body.dialogId];
    if (!conv) {
        return;
    }
    body.changes.forEach(c => {
        if (c.event.type !== 'ContentEvent' || c.originatorId === agent.agentId) {
            return;
        }
        if (conv.answered.has(c.sequence)) {
            return;  // seen again after a reconnect (QueryMessages replays the history)
        }
        conv.answered.add(c.sequence);
        log('message', { convId: body.dialogId, text: c.event.message, sequence: c.sequence, role: c.originatorMetadata && c.originatorMetadata.role });
        agent.publishEvent({
            dialogId: body.dialogId,
            event: { type: 'AcceptStatusEvent', status: 'READ', sequenceList: [c.sequence] }
        });
        if (c.event.message.startsWith('#close')) {
            agent.updateConversationField({
                conversationId: body.dialogId,
                conversationField: [{ field: 'ConversationStateField', conversationState: 'CLOSE' }]
            }, (err, resp) => log('close', { convId: body.dialogId, err: err ? err.body : null, body: resp }));
        } else {
            agent.publishEvent({
                dialogId: body.dialogId,
                event: { type: 'ContentEvent', contentType: 'text/plain', message: 'echo : ' + c.event.message }
            }, (err, resp) => log('echoed', { convId: body.dialogId, err: err ? err.body : null, body: resp }));
        }
    });
});

agent.on('closed', code => {
    log('closed', { code: code });
    if (env.RECONNECT === '1') {
        agent.reconnect();
    }
});

agent.on('error', err => log('error', { message: String(err && err.message || err), code: err && err.code }));
agent.on('warn', w => log('warn', { message: String(w && w.message || w) }));
