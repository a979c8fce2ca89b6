import { definePolicy } from '@bulwark/core';

/**
 * Added by the adoption: who may write articles. Every signed-in user has the role `user`
 * (principal mapping in adopt/bulwark-wiring.ts); anything not allowed here is denied.
 */
export const articlePolicy = definePolicy({
  version: 1,
  roles: { user: { description: 'Any signed-in user' } },
  policies: [
    {
      id: 'articles',
      rules: [
        {
          // GET /user: the record read is the caller's own (its id comes from the token).
          id: 'read-own-account',
          effect: 'allow',
          roles: ['user'],
          actions: ['user:read'],
          resources: ['users'],
        },
        {
          id: 'write-articles',
          effect: 'allow',
          roles: ['user'],
          actions: ['article:create'],
          resources: ['articles'],
        },
        {
          // The ownership rule: both sides strings (ArticleOwnerLoader converts the numeric column).
          id: 'own-articles',
          effect: 'allow',
          roles: ['user'],
          actions: ['article:update', 'article:delete'],
          resources: ['articles/*'],
          when: { attr: 'resource.authorId', eq: { ref: 'subject.id' } },
          reasonId: 'article_owner',
        },
      ],
    },
  ],
});
